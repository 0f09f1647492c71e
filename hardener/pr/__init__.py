"""Pull requests and campaigns: ``hardener pr``, its bodies and commits, git and the GitHub API, runs over many repositories."""
