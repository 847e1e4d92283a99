"""Interfaces: the CLI, the MCP server, the webhook service and the local PagerDuty server."""
