output "bus_name" {
  description = "Name of the event bus."
  value       = aws_cloudwatch_event_bus.this.name
}

output "bus_arn" {
  description = "ARN of the event bus."
  value       = aws_cloudwatch_event_bus.this.arn
}

output "rule_arns" {
  description = "ARN of each rule, by logical name."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.arn }
}

output "delivery_dlq_names" {
  description = "Name of each rule's delivery DLQ, by logical rule name."
  value       = { for k, q in aws_sqs_queue.delivery_dlq : k => q.name }
}

output "rule_names" {
  description = "Name of each rule, by logical name."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.name }
}

output "delivery_dlq_arns" {
  description = "ARN of each rule's delivery DLQ, by logical rule name (known when planning); available once the DLQ and its policy admitting the rule exist."
  value       = local.delivery_dlq_arns
  depends_on  = [aws_sqs_queue_policy.delivery_dlq]
}

output "archive_arn" {
  description = "ARN of the bus's archive; null when it has none."
  value       = try(aws_cloudwatch_event_archive.this[0].arn, null)
}
