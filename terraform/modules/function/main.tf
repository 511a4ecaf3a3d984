locals {
  log_group_name = "/aws/lambda/${var.name}"
}

# Created before the function (the function depends on it) so Lambda never creates an
# unmanaged log group without retention.
resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is an input (var.log_retention_days); these are operational logs, not an audit trail, so a year is not required.
  #checkov:skip=CKV_AWS_158:Encrypted by CloudWatch Logs by default; a customer-managed key is optional through var.log_kms_key_arn.
  name              = local.log_group_name
  retention_in_days = var.log_retention_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name}-role"
  description        = "Execution role of the ${var.name} function"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    effect    = "Allow"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.value.sid
      effect    = "Allow"
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously (API Gateway) or by SQS event source mappings, whose queues carry the DLQ; a function DLQ only applies to asynchronous invocation.
  #checkov:skip=CKV_AWS_117:The function reaches only AWS public endpoints (DynamoDB, SQS, EventBridge); a VPC would add NAT cost and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_173:Environment variables hold resource names and URLs only, no secrets; Lambda encrypts them at rest with an AWS-managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the project does not use; zips come from the project's own build.
  #checkov:skip=CKV_AWS_115:Reserved concurrency is an input (var.reserved_concurrent_executions); SQS consumers are bounded by scaling_config.maximum_concurrency instead.
  function_name    = var.name
  description      = var.description
  role             = aws_iam_role.this.arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  handler          = "handler.handler"
  runtime          = "nodejs24.x"
  architectures    = ["arm64"]
  memory_size      = var.memory_mb
  timeout          = var.timeout_seconds

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = var.environment_variables
  }

  # Active X-Ray tracing is off: no function propagates a trace (no trace header on the
  # events it publishes, no instrumented SDK clients), so an active trace would stop at the
  # function and cost segments for nothing. Tracing comes back with an instrumented client
  # (Powertools Tracer, with its cold-start cost measured), together with the X-Ray
  # PutTraceSegments/PutTelemetryRecords statement on the role.
  #checkov:skip=CKV_AWS_50:Active tracing would record traces no function propagates (see the note above).
  tracing_config {
    mode = "PassThrough"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}
