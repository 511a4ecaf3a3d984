terraform {
  # >= 1.10: the S3 backend's use_lockfile (backend.tf). Install the version in
  # /.terraform-version; CI also runs the terraform on its PATH (tests/infra/terraform-plan.test.ts).
  required_version = ">= 1.10, < 2.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.40, < 7.0"
    }
  }
}
