"""Andon: calls for help from the shop floor, their states, escalation ladders and the channels they notify."""
