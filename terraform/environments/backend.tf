# Partial configuration, completed at init: `-backend-config=<env>.s3.tfbackend` gives the
# environment's state key, and the state bucket and region come from further -backend-config
# flags (see docs/DEPLOY.md), so no account detail is committed. State locking uses an S3
# lock file (use_lockfile, Terraform >= 1.10).
terraform {
  backend "s3" {
    encrypt      = true
    use_lockfile = true
  }
}
