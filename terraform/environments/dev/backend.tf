# Partial configuration: the state bucket, key, region and lock settings come from
# `terraform init -backend-config=...` (see docs/DEPLOY.md), so no account detail is
# committed. State locking uses an S3 lock file (use_lockfile, Terraform >= 1.10).
terraform {
  backend "s3" {
    key          = "event-flows/dev/terraform.tfstate"
    encrypt      = true
    use_lockfile = true
  }
}
