data "aws_caller_identity" "current" {}

locals {
  # The managed CachingOptimized cache policy: caches by path only, honours the objects'
  # Cache-Control (hashed assets: a year, index.html and config.json: no-cache), compresses.
  caching_optimized_policy_id = "658327ea-f89d-4fab-a63d-7e88639e58f6"
  origin_id                   = "s3-${var.name}"
  custom_certificate          = var.acm_certificate_arn != null
  content_security_policy = join("; ", [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    join(" ", concat(["connect-src 'self'"], var.connect_src)),
    "frame-ancestors 'none'",
    "base-uri 'self'",
    "form-action 'self'",
  ])
}

# --- The bucket: private, encrypted, versioned; only this distribution may read it ---------

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access is logged where it happens, at CloudFront (the bucket is read only by the distribution); S3 server access logs would repeat it.
  #checkov:skip=CKV_AWS_144:Static files rebuilt from the repository by any deploy; a replica in another region would protect nothing that git does not.
  #checkov:skip=CKV_AWS_145:SSE-S3: the files are a public web app's, and a KMS key would have to admit CloudFront in its policy for no confidentiality gained.
  #checkov:skip=CKV2_AWS_62:Nothing reacts to changes of the site's files.
  bucket        = "${var.name}-${data.aws_caller_identity.current.account_id}"
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  # ACLs off: only the bucket policy decides access.
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid       = "CloudFrontReadsThroughOriginAccessControl"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  # The public access block first: with it, no policy that grants public access is accepted.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

# --- CloudFront: TLS, origin access control, security headers --------------------------------

resource "aws_cloudfront_origin_access_control" "this" {
  name                              = var.name
  description                       = "CloudFront signs every request to the ${var.name} bucket."
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

resource "aws_cloudfront_response_headers_policy" "this" {
  name    = "${var.name}-security-headers"
  comment = "Security headers of ${var.name}."

  security_headers_config {
    content_security_policy {
      content_security_policy = local.content_security_policy
      override                = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
  }
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_68:No WAF in front of static files: the API, which does the work, has its own throttles; add a web_acl_id where a WAF is required.
  #checkov:skip=CKV2_AWS_47:No WAF (see CKV_AWS_68); the site serves static files, not Java.
  #checkov:skip=CKV_AWS_86:Access logging needs a log bucket with ACLs enabled; not worth it for a dashboard, add logging_config where required.
  #checkov:skip=CKV_AWS_310:One origin: the bucket; S3 is already regional and redundant.
  #checkov:skip=CKV_AWS_374:The dashboard is used from anywhere its users are; sign-in restricts who sees data.
  #checkov:skip=CKV_AWS_174:Without a custom certificate CloudFront's *.cloudfront.net certificate applies and the minimum protocol cannot be set; with acm_certificate_arn it is TLSv1.2_2021.
  #checkov:skip=CKV2_AWS_42:A custom certificate is optional (aliases, acm_certificate_arn); the default one serves *.cloudfront.net over TLS.
  enabled             = true
  comment             = var.name
  default_root_object = "index.html"
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  price_class         = var.price_class
  aliases             = var.aliases

  origin {
    origin_id                = local.origin_id
    domain_name              = aws_s3_bucket.this.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.this.id
  }

  default_cache_behavior {
    target_origin_id           = local.origin_id
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = local.caching_optimized_policy_id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.this.id
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    cloudfront_default_certificate = !local.custom_certificate
    acm_certificate_arn            = var.acm_certificate_arn
    ssl_support_method             = local.custom_certificate ? "sni-only" : null
    minimum_protocol_version       = local.custom_certificate ? "TLSv1.2_2021" : "TLSv1"
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(var.aliases) == 0 || local.custom_certificate
      error_message = "aliases need acm_certificate_arn (a certificate for them in us-east-1)."
    }
  }
}
