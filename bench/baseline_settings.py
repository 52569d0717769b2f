"""The product's settings, with only the URLconf swapped for the baseline view.

Same middleware, database options and gunicorn set-up as the product, so the baseline
measures what a minimal Django write costs on this stack, not a lighter framework.
"""

from mes.settings import *

ROOT_URLCONF = "bench.baseline_urls"
