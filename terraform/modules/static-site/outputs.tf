output "bucket_name" {
  description = "Bucket holding the site's files (upload with content types; see the README)."
  value       = aws_s3_bucket.this.id
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "distribution_id" {
  description = "CloudFront distribution ID (for invalidations)."
  value       = aws_cloudfront_distribution.this.id
}

output "distribution_arn" {
  description = "ARN of the distribution."
  value       = aws_cloudfront_distribution.this.arn
}

output "domain_name" {
  description = "The distribution's domain name (d123.cloudfront.net)."
  value       = aws_cloudfront_distribution.this.domain_name
}

output "url" {
  description = "The site's origin: https:// and the first alias, or the distribution's domain name. Use it as the API's CORS origin and the sign-in callback."
  value       = "https://${length(var.aliases) > 0 ? var.aliases[0] : aws_cloudfront_distribution.this.domain_name}"
}
