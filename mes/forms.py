"""Forms of the people's pages: they parse and check input; the services decide."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from mes.models import NonconformanceDisposition, Status
from mes.selectors.planning import WorkOrderFilter

KEY_MAX_LENGTH = 64


def is_key(value: str) -> bool:
    """Whether ``value`` can be an ERP key (an order number): 1 to 64 characters, none of them a control character."""
    return 0 < len(value) <= KEY_MAX_LENGTH and value.strip() != "" and not any(ord(character) < 32 for character in value)


class DateInput(forms.DateInput):
    input_type = "date"


class WorkOrderFilterForm(forms.Form):
    """The planner's list filters. An invalid field is reported and left out; the others still apply."""

    status = forms.ChoiceField(label=_("status"), required=False, choices=[("", _("any status")), *Status.choices])
    line = forms.ChoiceField(label=_("production line"), required=False)
    due_from = forms.DateField(label=_("due from"), required=False, widget=DateInput)
    due_to = forms.DateField(label=_("due to"), required=False, widget=DateInput)
    item = forms.CharField(label=_("item code"), required=False, max_length=KEY_MAX_LENGTH)
    q = forms.CharField(label=_("search"), required=False, max_length=100)

    def __init__(self, *args, lines: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [("", _("any line")), *((line, line) for line in lines)]

    def clean(self):
        data = super().clean()
        if data.get("due_from") and data.get("due_to") and data["due_from"] > data["due_to"]:
            self.add_error("due_to", _("The end of the due-date range is before its start."))
            data.pop("due_to", None)
        return data

    def filters(self) -> WorkOrderFilter:
        """What to filter by: every valid field (call after ``is_valid()``)."""
        data = self.cleaned_data
        return WorkOrderFilter(
            status=data.get("status") or "",
            line=data.get("line") or "",
            due_from=data.get("due_from"),
            due_to=data.get("due_to"),
            item=(data.get("item") or "").strip(),
            search=(data.get("q") or "").strip(),
        )


class TransitionForm(forms.Form):
    """One requested action on one or more orders, with the reason written to the audit trail."""

    action = forms.CharField(max_length=32)
    reason = forms.CharField(label=_("reason"), required=False, max_length=500)

    def __init__(self, *args, many: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.many = many

    def clean(self):
        data = super().clean()
        # The selection is a list (one value per ticked box), so it is read here rather than as a field.
        numbers = [value.strip() for value in self.data.getlist("numbers")] if self.many else []
        if not all(is_key(value) for value in numbers):
            raise forms.ValidationError(_("An order number in the selection is not valid."))
        if len(numbers) > settings.MES_BULK_LIMIT:
            raise forms.ValidationError(
                _("Select at most %(limit)d work orders at a time.") % {"limit": settings.MES_BULK_LIMIT}
            )
        data["numbers"] = numbers
        return data

    def refusal(self) -> str:
        """The first problem, as one sentence for the inline message."""
        return " ".join(str(message) for messages in self.errors.values() for message in messages)


class QualityFilterForm(forms.Form):
    """The quality page's filters: the line of the operation, the item, how old."""

    line = forms.ChoiceField(label=_("production line"), required=False)
    item = forms.CharField(label=_("item code"), required=False, max_length=KEY_MAX_LENGTH)
    older_than = forms.IntegerField(label=_("older than (days)"), required=False, min_value=0, max_value=3650)

    def __init__(self, *args, lines: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["line"].choices = [("", _("any line")), *((line, line) for line in lines)]


class DispositionForm(forms.Form):
    """A decision on an NCR, as ``POST /api/v1/nonconformances/{id}/disposition`` takes it."""

    disposition = forms.ChoiceField(label=_("disposition"), choices=NonconformanceDisposition.Kind.choices)
    quantity = forms.DecimalField(label=_("quantity (empty: all still open)"), required=False, min_value=Decimal("0.001"), max_digits=14, decimal_places=3)
    reason = forms.CharField(label=_("reason"), max_length=500)
    defect_code = forms.ChoiceField(label=_("defect code (for scrap of an NCR without one)"), required=False)

    def __init__(self, *args, defect_codes: list[tuple[str, str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["defect_code"].choices = [("", "—"), *defect_codes]

    def refusal(self) -> str:
        """The first problem, as one sentence."""
        for name, errors in self.errors.items():
            label = self.fields[name].label if name in self.fields else name
            return f"{label}: {errors[0]}"
        return ""
