output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.http_api.api_endpoint
}

output "api_id" {
  description = "ID of the HTTP API."
  value       = module.http_api.api_id
}

output "jwt_issuer" {
  description = "Issuer the API's JWT authorizer accepts."
  value       = module.http_api.jwt_issuer
}

output "jwt_audience" {
  description = "Audiences the API's JWT authorizer accepts."
  value       = module.http_api.jwt_audience
}

output "cognito_user_pool_id" {
  description = "Created Cognito user pool (null when not created)."
  value       = module.http_api.cognito_user_pool_id
}

output "cognito_user_pool_client_id" {
  description = "Created Cognito app client (null when not created)."
  value       = module.http_api.cognito_user_pool_client_id
}

output "bus_names" {
  description = "Event bus names, by logical name."
  value       = { for key, bus in module.event_bus : key => bus.bus_name }
}

output "table_names" {
  description = "Table names, by logical name."
  value       = { for key, table in module.table : key => table.name }
}

output "queue_urls" {
  description = "Queue URLs, by logical name."
  value       = { for key, queue in module.queue : key => queue.queue_url }
}

output "dlq_urls" {
  description = "DLQ URLs, by logical queue name (for redrive)."
  value       = { for key, queue in module.queue : key => queue.dlq_url }
}

output "function_names" {
  description = "Function names, by logical name."
  value       = { for key, fn in module.function : key => fn.function_name }
}

output "dashboard_url" {
  description = "Console URL of the CloudWatch dashboard."
  value       = module.alarms.dashboard_url
}

output "alarm_topic_arn" {
  description = "ARN of the SNS topic that receives every alarm."
  value       = module.alarms.topic_arn
}

output "analytics_dashboard_url" {
  description = "The analytics dashboard (CloudFront); null when dashboard_enabled is off."
  value       = local.dashboard_enabled ? module.dashboard[0].url : null
}
