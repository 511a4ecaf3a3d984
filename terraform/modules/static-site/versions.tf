terraform {
  # A minimum, as shared modules state it: the newest language feature used here is from
  # Terraform 1.5 (startswith/endswith/strcontains); the environments bound the range.
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}
