"""A trainee's and a team's history, read from ledgers: export, stats, the campaign, the report."""
