locals {
  cross_account_enabled = length(var.allowed_account_ids) > 0 || var.allowed_organization_id != null
  # Each delivery DLQ's ARN from its parts (the format AWS documents for SQS), so the targets
  # that use it show their dead-letter queue when planning; a postcondition checks it.
  delivery_dlq_arns = { for key, rule in var.rules : key => "arn:${data.aws_partition.current.partition}:sqs:${data.aws_region.current.region}:${data.aws_caller_identity.current.account_id}:${rule.target_queue_name}-delivery-dlq" }
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

resource "aws_cloudwatch_event_bus" "this" {
  name = var.name
  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = var.rules

  name           = "${var.name_prefix}${each.key}"
  description    = each.value.description
  event_bus_name = aws_cloudwatch_event_bus.this.name
  # A pattern can tell this account's events from other accounts' (the analytics bus trusts
  # the tenant only in its own account's events).
  event_pattern = replace(each.value.event_pattern, "$${own_account}", data.aws_caller_identity.current.account_id)
  state         = "ENABLED"
  tags          = var.tags
}

# Where EventBridge puts an event it could not deliver to the target queue after the
# retry policy ran out. The target itself belongs to the queue module (its event_sources):
# the target needs the queue's ARN and the queue's policy needs the rule's, so putting both
# on one side keeps the modules free of a dependency cycle.
resource "aws_sqs_queue" "delivery_dlq" {
  for_each = var.rules

  name                      = "${each.value.target_queue_name}-delivery-dlq"
  max_message_size          = 1048576 # SQS's 1 MiB quota: an EventBridge event may be up to 1 MB
  message_retention_seconds = var.delivery_dlq_message_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags

  lifecycle {
    postcondition {
      condition     = self.arn == local.delivery_dlq_arns[each.key]
      error_message = "The delivery DLQ's ARN is not the one the module outputs (local.delivery_dlq_arns)."
    }
  }
}

data "aws_iam_policy_document" "delivery_dlq" {
  for_each = var.rules

  statement {
    sid       = "AllowRuleDeadLetters"
    effect    = "Allow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.delivery_dlq[each.key].arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.this[each.key].arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:PurgeQueue", "sqs:SetQueueAttributes"]
    resources = [aws_sqs_queue.delivery_dlq[each.key].arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "delivery_dlq" {
  for_each = var.rules

  queue_url = aws_sqs_queue.delivery_dlq[each.key].id
  policy    = data.aws_iam_policy_document.delivery_dlq[each.key].json
}

resource "aws_cloudwatch_event_archive" "this" {
  count = var.archive == null ? 0 : 1

  name             = substr("${var.name}-archive", 0, 48)
  description      = var.archive.description
  event_source_arn = aws_cloudwatch_event_bus.this.arn
  event_pattern    = var.archive.event_pattern
  retention_days   = var.archive.retention_days
}

data "aws_iam_policy_document" "bus" {
  count = local.cross_account_enabled ? 1 : 0

  dynamic "statement" {
    for_each = length(var.allowed_account_ids) > 0 ? [1] : []
    content {
      sid       = "AllowAccountsToPutEvents"
      effect    = "Allow"
      actions   = ["events:PutEvents"]
      resources = [aws_cloudwatch_event_bus.this.arn]

      principals {
        type        = "AWS"
        identifiers = [for id in var.allowed_account_ids : "arn:${data.aws_partition.current.partition}:iam::${id}:root"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.allowed_organization_id == null ? [] : [var.allowed_organization_id]
    content {
      sid       = "AllowOrganizationToPutEvents"
      effect    = "Allow"
      actions   = ["events:PutEvents"]
      resources = [aws_cloudwatch_event_bus.this.arn]

      principals {
        type        = "AWS"
        identifiers = ["*"]
      }

      condition {
        test     = "StringEquals"
        variable = "aws:PrincipalOrgID"
        values   = [statement.value]
      }
    }
  }
}

data "aws_partition" "current" {}

resource "aws_cloudwatch_event_bus_policy" "this" {
  count = local.cross_account_enabled ? 1 : 0

  event_bus_name = aws_cloudwatch_event_bus.this.name
  policy         = data.aws_iam_policy_document.bus[0].json
}
