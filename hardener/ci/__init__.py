"""Companion CI files for add-ci-security-gate (HD504): the images a repo builds and the GitLab jobs."""
