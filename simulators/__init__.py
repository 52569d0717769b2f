"""Simulated peers of the plant: ERPs (SAP, ERPNext, Odoo, Kingdee K/3 Cloud, Yonyou U8+) and machines (Modbus TCP, OPC UA), for tests and the demo. Never imported by product code."""
