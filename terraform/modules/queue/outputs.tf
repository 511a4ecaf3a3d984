output "queue_name" {
  description = "Name of the queue."
  value       = aws_sqs_queue.this.name
}

output "queue_arn" {
  description = "ARN of the queue."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the queue."
  value       = aws_sqs_queue.this.id
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout applied to the queue."
  value       = aws_sqs_queue.this.visibility_timeout_seconds
}

output "dlq_name" {
  description = "Name of the DLQ (null without one)."
  value       = var.create_dlq ? aws_sqs_queue.dlq[0].name : null
}

output "dlq_arn" {
  description = "ARN of the DLQ (null without one)."
  value       = var.create_dlq ? aws_sqs_queue.dlq[0].arn : null
}

output "dlq_url" {
  description = "URL of the DLQ (null without one)."
  value       = var.create_dlq ? aws_sqs_queue.dlq[0].id : null
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping (null without a consumer)."
  value       = var.consumer_function_name == null ? null : aws_lambda_event_source_mapping.this[0].uuid
}
