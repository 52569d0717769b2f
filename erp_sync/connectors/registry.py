"""Which class serves which kind, and one connector instance per connection per process."""

from __future__ import annotations

import importlib
import threading

from erp_sync.connectors.base import ConnectionConfig, Connector

CONNECTOR_CLASSES = {
    "sap": "erp_sync.connectors.sap.SapConnector",
    "erpnext": "erp_sync.connectors.erpnext.ErpNextConnector",
    "odoo": "erp_sync.connectors.odoo.OdooConnector",
    "kingdee": "erp_sync.connectors.kingdee.KingdeeConnector",
    "u8": "erp_sync.connectors.u8.U8Connector",
    "rest": "erp_sync.connectors.rest.RestConnector",
    "b2mml": "erp_sync.connectors.b2mml.B2mmlConnector",
}

_instances: dict[tuple[str, str], Connector] = {}
_lock = threading.Lock()


def connector_class(kind: str) -> type[Connector]:
    module_name, class_name = CONNECTOR_CLASSES[kind].rsplit(".", 1)
    return getattr(importlib.import_module(module_name), class_name)


def connector_for(config: ConnectionConfig, version: str) -> Connector:
    """The process's connector for a connection; a changed connection (new ``version``) gets a fresh one.

    Connectors keep sessions (SAP's CSRF token and cookies) per worker process, as SAP
    advises, so concurrent threads of one worker share one session per connection.
    """
    key = (config.name, version)
    with _lock:
        connector = _instances.get(key)
        if connector is None:
            for stale in [k for k in _instances if k[0] == config.name]:
                _instances.pop(stale).close()
            connector = _instances[key] = connector_class(config.kind)(config)
        return connector
