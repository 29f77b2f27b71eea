# Manages the repository widgets of the organisation var.owner (acme in
# workflow.yml) with the integrations/github provider, authenticated by a
# short-lived GitHub App installation token that the workflow (workflow.yml,
# run in acme/infra) mints with github-app-kms-token: the provider reads it
# from GITHUB_TOKEN, and no App private key is ever handed to Terraform.
#
# Two Apps feed it. A plan on a pull request gets a token of the read-only
# App; only the apply on main, in the environment production, gets a token of
# the read-write App. Whoever can assume an App's signing role can mint any
# token that App can get, so the roles' trust policies (iam/) keep pull
# requests away from the read-write App, not the permission-* inputs.

terraform {
  required_version = ">= 1.5"
  required_providers {
    github = {
      source  = "integrations/github"
      version = "~> 6.0"
    }
  }
}

variable "owner" {
  description = "The organisation whose repositories this manages."
  type        = string
}

# Token from GITHUB_TOKEN. A plan needs administration: read on the repository
# (the read-only App); an apply needs administration: write (the read-write App).
provider "github" {
  owner = var.owner
}

# The repository exists already: adopt it rather than create it.
import {
  to = github_repository.widgets
  id = "widgets"
}

resource "github_repository" "widgets" {
  name                   = "widgets"
  description            = "Managed by Terraform with a KMS-signed GitHub App token"
  visibility             = "private"
  has_issues             = true
  delete_branch_on_merge = true
}

resource "github_branch_protection" "main" {
  repository_id = github_repository.widgets.node_id
  pattern       = "main"

  required_pull_request_reviews {
    required_approving_review_count = 1
  }
}
