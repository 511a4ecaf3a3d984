output "api_id" {
  description = "ID of the HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "api_endpoint" {
  description = "Base URL of the API ($default stage)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "execution_arn" {
  description = "Execution ARN of the API."
  value       = aws_apigatewayv2_api.this.execution_arn
}

output "stage_name" {
  description = "Name of the stage."
  value       = aws_apigatewayv2_stage.default.name
}

output "route_keys" {
  description = "Every route key of the API."
  value       = [for route in aws_apigatewayv2_route.this : route.route_key]
}

output "jwt_issuer" {
  description = "Issuer the JWT authorizer accepts."
  value       = local.jwt_issuer
}

output "jwt_audience" {
  description = "Audiences the JWT authorizer accepts."
  value       = local.jwt_audience
}

output "cognito_user_pool_id" {
  description = "ID of the created Cognito user pool (null when not created)."
  value       = local.create_user_pool ? aws_cognito_user_pool.this[0].id : null
}

output "cognito_user_pool_client_id" {
  description = "ID of the created Cognito app client (null when not created)."
  value       = local.create_user_pool ? aws_cognito_user_pool_client.this[0].id : null
}

output "access_log_group_name" {
  description = "Name of the access log group."
  value       = aws_cloudwatch_log_group.access.name
}

output "cognito_hosted_ui_url" {
  description = "Base URL of the created user pool's hosted UI (/oauth2/authorize, /oauth2/token, /logout); null without one."
  value       = local.hosted_ui ? "https://${var.cognito_domain_prefix}.auth.${data.aws_region.current.region}.amazoncognito.com" : null
}
