# The analytics dashboard (web/): its files in a private bucket behind CloudFront
# (modules/static-site), config.json written here from the API and the user pool, the
# hosted UI's code flow on the app client, and the site's origin in the API's CORS origins.
# Terraform uploads the built files itself (one object per file, with its content type and
# cache lifetime), so one apply deploys API and dashboard together and a plan shows which
# files change; `npm run build:web` must have run first (a precondition says so).

locals {
  dashboard_enabled = coalesce(var.dashboard_enabled, var.environment == "dev" && var.create_cognito_user_pool)
  dashboard_dir     = coalesce(var.dashboard_dir, "${var.artifacts_dir}/../web/dist")
  # Hosted UI domains are unique per region across accounts: the account ID makes ours so.
  cognito_domain_prefix   = "${local.prefix}-${data.aws_caller_identity.current.account_id}"
  dashboard_origins       = local.dashboard_enabled ? [module.dashboard[0].url] : []
  dashboard_redirect_urls = local.dashboard_enabled ? ["${module.dashboard[0].url}/"] : []

  dashboard_files = local.dashboard_enabled ? fileset(local.dashboard_dir, "**") : toset([])
  # index.html goes last (it names the hashed assets); config.json is written below, never built.
  dashboard_assets = setsubtract(local.dashboard_files, ["index.html", "config.json"])
  content_types = {
    html = "text/html; charset=utf-8"
    js   = "text/javascript; charset=utf-8"
    css  = "text/css; charset=utf-8"
    json = "application/json"
    svg  = "image/svg+xml"
    png  = "image/png"
    ico  = "image/x-icon"
    txt  = "text/plain; charset=utf-8"
  }
  dashboard_scopes = ["openid", "email", "profile"]
}

module "dashboard" {
  source = "../static-site"
  count  = local.dashboard_enabled ? 1 : 0

  name = "${local.prefix}-dashboard"
  # The API's URL is not known before the API exists, and the API's CORS origin is this site:
  # the policy names API Gateway's regional domain instead of the one API, so neither waits for the other.
  connect_src   = ["https://*.execute-api.${data.aws_region.current.region}.amazonaws.com", module.http_api.cognito_hosted_ui_url]
  force_destroy = !var.table_deletion_protection
  tags          = local.tags
}

resource "aws_s3_object" "dashboard_asset" {
  #checkov:skip=CKV_AWS_186:The bucket encrypts every object (SSE-S3, modules/static-site); the files are a public web app's.
  for_each = local.dashboard_assets

  bucket        = module.dashboard[0].bucket_name
  key           = each.key
  source        = "${local.dashboard_dir}/${each.key}"
  source_hash   = filemd5("${local.dashboard_dir}/${each.key}")
  content_type  = lookup(local.content_types, reverse(split(".", each.key))[0], "application/octet-stream")
  cache_control = startswith(each.key, "assets/") ? "public, max-age=31536000, immutable" : "no-cache"
  tags          = local.tags
}

resource "aws_s3_object" "dashboard_index" {
  #checkov:skip=CKV_AWS_186:The bucket encrypts every object (SSE-S3, modules/static-site).
  count = local.dashboard_enabled ? 1 : 0

  bucket        = module.dashboard[0].bucket_name
  key           = "index.html"
  source        = "${local.dashboard_dir}/index.html"
  source_hash   = fileexists("${local.dashboard_dir}/index.html") ? filemd5("${local.dashboard_dir}/index.html") : null
  content_type  = local.content_types.html
  cache_control = "no-cache"
  tags          = local.tags

  depends_on = [aws_s3_object.dashboard_asset]

  lifecycle {
    precondition {
      condition     = fileexists("${local.dashboard_dir}/index.html")
      error_message = "No built dashboard in ${local.dashboard_dir}: run npm run build:web first (or set dashboard_enabled = false)."
    }
  }
}

resource "aws_s3_object" "dashboard_config" {
  #checkov:skip=CKV_AWS_186:The bucket encrypts every object (SSE-S3, modules/static-site).
  count = local.dashboard_enabled ? 1 : 0

  bucket = module.dashboard[0].bucket_name
  key    = "config.json"
  # web/src/config.ts reads this.
  content = jsonencode({
    apiUrl         = module.http_api.api_endpoint
    refreshSeconds = 30
    auth = {
      kind     = "cognito"
      domain   = module.http_api.cognito_hosted_ui_url
      clientId = module.http_api.cognito_user_pool_client_id
      scopes   = local.dashboard_scopes
    }
  })
  content_type  = local.content_types.json
  cache_control = "no-cache"
  tags          = local.tags

  lifecycle {
    precondition {
      condition     = var.create_cognito_user_pool
      error_message = "The dashboard signs in through the user pool created here: set create_cognito_user_pool = true, or dashboard_enabled = false."
    }
  }
}
