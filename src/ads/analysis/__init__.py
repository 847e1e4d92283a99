"""Analysis: pure functions from text, commits and manifests to findings.

Nothing here touches the network or starts a process (import-linter checks it), so every rule is
tested on plain strings and runs the same in the CLI, the MCP server and the webhook worker.
"""
