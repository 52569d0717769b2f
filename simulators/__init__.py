"""Simulated peers of the plant: ERPs (SAP, ERPNext, Odoo, Kingdee K/3 Cloud) and machines (Modbus TCP, OPC UA), for tests and the demo. Never imported by product code."""
