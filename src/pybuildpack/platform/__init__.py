"""The local platform: per-app state, releases, config vars, slugs, processes and git push deploys."""
