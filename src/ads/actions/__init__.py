"""Actions: what ADS does to the world — build, verify, patch, open PRs, write notes."""
