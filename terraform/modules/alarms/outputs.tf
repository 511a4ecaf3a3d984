output "topic_arn" {
  description = "ARN of the alarm topic."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arn" {
  description = "ARN of the key encrypting the alarm topic."
  value       = aws_kms_key.alarms.arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = aws_cloudwatch_dashboard.this.dashboard_name
}

output "dashboard_url" {
  description = "Console URL of the dashboard."
  value       = "https://console.aws.amazon.com/cloudwatch/home?region=${local.region}#dashboards:name=${aws_cloudwatch_dashboard.this.dashboard_name}"
}

output "dlq_alarm_names" {
  description = "Depth alarm of each DLQ, by queue name."
  value       = { for q in var.dead_letter_queue_names : q => aws_cloudwatch_metric_alarm.this["${q}-not-empty"].alarm_name }
}

output "application_metric_alarm_names" {
  description = "Alarm on each application metric, by the key of application_metric_alarms."
  value       = { for k, a in aws_cloudwatch_metric_alarm.application_metric : k => a.alarm_name }
}
