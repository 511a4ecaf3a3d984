output "name" {
  description = "Table name."
  value       = aws_dynamodb_table.this.name
}

output "arn" {
  description = "Table ARN."
  value       = aws_dynamodb_table.this.arn
}

output "index_arns" {
  description = "ARN of each global secondary index, by index name."
  value       = { for index in var.global_secondary_indexes : index.name => "${aws_dynamodb_table.this.arn}/index/${index.name}" }
}
