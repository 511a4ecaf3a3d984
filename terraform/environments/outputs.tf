output "api_url" {
  description = "Base URL of the HTTP API."
  value       = module.event_flows.api_url
}

output "jwt_issuer" {
  description = "Issuer the API's JWT authorizer accepts."
  value       = module.event_flows.jwt_issuer
}

output "cognito_user_pool_id" {
  description = "Created Cognito user pool (null when not created)."
  value       = module.event_flows.cognito_user_pool_id
}

output "cognito_user_pool_client_id" {
  description = "Created Cognito app client (null when not created)."
  value       = module.event_flows.cognito_user_pool_client_id
}

output "bus_names" {
  description = "Event bus names."
  value       = module.event_flows.bus_names
}

output "table_names" {
  description = "Table names."
  value       = module.event_flows.table_names
}

output "queue_urls" {
  description = "Queue URLs."
  value       = module.event_flows.queue_urls
}

output "dlq_urls" {
  description = "DLQ URLs (for redrive)."
  value       = module.event_flows.dlq_urls
}

output "dashboard_url" {
  description = "CloudWatch dashboard."
  value       = module.event_flows.dashboard_url
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.event_flows.alarm_topic_arn
}
