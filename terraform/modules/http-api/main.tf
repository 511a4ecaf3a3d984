data "aws_region" "current" {}

locals {
  create_user_pool = var.create_cognito_user_pool
  jwt_issuer       = local.create_user_pool ? "https://cognito-idp.${data.aws_region.current.region}.amazonaws.com/${aws_cognito_user_pool.this[0].id}" : var.jwt_issuer
  jwt_audience     = local.create_user_pool ? [aws_cognito_user_pool_client.this[0].id] : var.jwt_audience
  # The functions that serve at least one route.
  integrated_functions = toset([for route in values(var.routes) : route.function])
  throttled_routes     = { for key, route in var.routes : key => route.throttle if route.throttle != null }
  # The hosted UI's authorization code flow (with PKCE, no client secret) for browser front
  # ends such as the analytics dashboard: on when a domain and redirect URLs are given.
  hosted_ui     = local.create_user_pool && var.cognito_domain_prefix != null
  oauth_enabled = local.hosted_ui && length(var.oauth_redirect_urls) > 0
}

resource "aws_cognito_user_pool" "this" {
  count = local.create_user_pool ? 1 : 0

  name                     = "${var.name}-users"
  deletion_protection      = var.user_pool_deletion_protection ? "ACTIVE" : "INACTIVE"
  auto_verified_attributes = ["email"]
  username_attributes      = ["email"]
  mfa_configuration        = "OPTIONAL"

  software_token_mfa_configuration {
    enabled = true
  }

  # Essentials: the pre-token-generation trigger (V2) may customise access tokens (tenant, admin scope).
  user_pool_tier = "ESSENTIALS"

  dynamic "lambda_config" {
    for_each = var.cognito_trigger_arn == null ? [] : [var.cognito_trigger_arn]
    content {
      pre_authentication  = lambda_config.value
      post_authentication = lambda_config.value
      post_confirmation   = lambda_config.value
      pre_token_generation_config {
        lambda_arn     = lambda_config.value
        lambda_version = "V2_0"
      }
    }
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  tags = var.tags
}

resource "aws_cognito_user_pool_client" "this" {
  count = local.create_user_pool ? 1 : 0

  name                          = "${var.name}-front-end"
  user_pool_id                  = aws_cognito_user_pool.this[0].id
  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  # Users may change only these of their own attributes: no attribute decides a tenant or a
  # role (the trigger reads those from our membership records and Cognito groups).
  read_attributes  = ["email", "email_verified", "name"]
  write_attributes = ["email", "name"]

  # Authorization code only (no implicit flow): the browser proves it started the sign-in
  # with PKCE; the access token carries tenant and admin scope from the trigger.
  allowed_oauth_flows_user_pool_client = local.oauth_enabled
  allowed_oauth_flows                  = local.oauth_enabled ? ["code"] : null
  allowed_oauth_scopes                 = local.oauth_enabled ? ["openid", "email", "profile"] : null
  callback_urls                        = local.oauth_enabled ? var.oauth_redirect_urls : null
  logout_urls                          = local.oauth_enabled ? var.oauth_redirect_urls : null
  supported_identity_providers         = local.oauth_enabled ? ["COGNITO"] : null
}

resource "aws_cognito_user_pool_domain" "this" {
  count = local.hosted_ui ? 1 : 0

  domain       = var.cognito_domain_prefix
  user_pool_id = aws_cognito_user_pool.this[0].id
}

resource "aws_lambda_permission" "cognito" {
  count = local.create_user_pool && var.cognito_trigger_arn != null ? 1 : 0

  statement_id  = "AllowCognitoTriggers"
  action        = "lambda:InvokeFunction"
  function_name = var.cognito_trigger_function_name
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = aws_cognito_user_pool.this[0].arn

  lifecycle {
    precondition {
      condition     = var.cognito_trigger_function_name != null && endswith(coalesce(var.cognito_trigger_arn, "-"), ":function:${coalesce(var.cognito_trigger_function_name, "-")}")
      error_message = "cognito_trigger_function_name must name the function of cognito_trigger_arn."
    }
  }
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.name
  description   = var.description
  protocol_type = "HTTP"

  # API Gateway answers preflight OPTIONS itself from this block; the local stack answers
  # from the same values (var.cors comes from topology.json).
  cors_configuration {
    allow_origins  = var.cors_allowed_origins
    allow_methods  = var.cors.allow_methods
    allow_headers  = var.cors.allow_headers
    expose_headers = var.cors.expose_headers
    max_age        = var.cors.max_age_seconds
  }

  tags = var.tags
}

resource "aws_apigatewayv2_authorizer" "jwt" {
  api_id           = aws_apigatewayv2_api.this.id
  authorizer_type  = "JWT"
  name             = "${var.name}-jwt"
  identity_sources = ["$request.header.Authorization"]

  jwt_configuration {
    issuer   = local.jwt_issuer
    audience = local.jwt_audience
  }

  lifecycle {
    precondition {
      condition     = local.create_user_pool || (var.jwt_issuer != null && length(var.jwt_audience) > 0)
      error_message = "Set jwt_issuer and jwt_audience, or create_cognito_user_pool = true."
    }
  }
}

resource "aws_apigatewayv2_integration" "this" {
  for_each = local.integrated_functions

  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = var.functions[each.key].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = var.integration_timeout_milliseconds
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Every route passes the JWT authorizer except those declared auth = "none" (only GET /health, a public liveness probe).
  for_each = var.routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.key
  target             = "integrations/${aws_apigatewayv2_integration.this[each.value.function].id}"
  authorization_type = each.value.auth == "jwt" ? "JWT" : "NONE"
  authorizer_id      = each.value.auth == "jwt" ? aws_apigatewayv2_authorizer.jwt.id : null
  # Admin routes: the authorizer refuses (403) a token whose scope lacks these, before any
  # function runs; the functions check the same scope again (shared/http/caller.ts).
  authorization_scopes = length(each.value.scopes) > 0 ? each.value.scopes : null
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_338:Retention is an input (var.access_log_retention_days); access logs are operational, not an audit trail.
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs by default; a customer-managed key is optional through var.log_kms_key_arn.
  name              = "/aws/apigateway/${var.name}/access"
  retention_in_days = var.access_log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit   = var.throttling_burst_limit
    throttling_rate_limit    = var.throttling_rate_limit
    detailed_metrics_enabled = true
  }

  # Routes with a throttle of their own (the public health check, front-end events): one
  # client cannot spend on them the stage limit that every tenant shares.
  dynamic "route_settings" {
    for_each = local.throttled_routes
    content {
      route_key                = route_settings.key
      throttling_burst_limit   = route_settings.value.burst_limit
      throttling_rate_limit    = route_settings.value.rate_limit
      detailed_metrics_enabled = true
    }
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      extendedRequestId  = "$context.extendedRequestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      httpMethod         = "$context.httpMethod"
      routeKey           = "$context.routeKey"
      path               = "$context.path"
      status             = "$context.status"
      protocol           = "$context.protocol"
      responseLength     = "$context.responseLength"
      responseLatency    = "$context.responseLatency"
      integrationLatency = "$context.integrationLatency"
      integrationStatus  = "$context.integrationStatus"
      integrationError   = "$context.integration.error"
      authorizerError    = "$context.authorizer.error"
      userAgent          = "$context.identity.userAgent"
    })
  }

  tags = var.tags

  # Route settings name routes that must exist first.
  depends_on = [aws_apigatewayv2_route.this]

  lifecycle {
    precondition {
      condition     = alltrue([for route in values(local.throttled_routes) : route.burst_limit <= var.throttling_burst_limit && route.rate_limit <= var.throttling_rate_limit])
      error_message = "A route's throttle must not exceed the stage's (throttling_burst_limit, throttling_rate_limit)."
    }
  }
}

resource "aws_lambda_permission" "api" {
  for_each = local.integrated_functions

  statement_id  = "AllowHttpApiInvoke"
  action        = "lambda:InvokeFunction"
  function_name = var.functions[each.key].function_name
  principal     = "apigateway.amazonaws.com"
  # Any stage and route of this API only.
  source_arn = "${aws_apigatewayv2_api.this.execution_arn}/*/*"
}
