# Manages a repository of the organisation with the integrations/github
# provider, authenticated by a short-lived GitHub App installation token that
# the workflow (workflow.yml) mints with github-app-kms-token: the provider
# reads it from GITHUB_TOKEN, and no App private key is ever handed to Terraform.

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

# Token from GITHUB_TOKEN; the App needs administration: write on the repository.
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
