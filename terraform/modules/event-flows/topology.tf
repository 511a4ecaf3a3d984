# The system's topology, mirroring scripts/local/topology.ts field by field. The local
# stack provisions from topology.ts; tests/infra/drift.test.ts parses these literal maps
# and fails when the two differ. Keep them literal (no expressions) so a parser can read them.
locals {
  functions = {
    "query"           = { description = "Reads items and collection stats", memory_mb = 512, timeout_seconds = 10 }
    "write"           = { description = "Creates, replaces, patches and deletes items", memory_mb = 512, timeout_seconds = 10 }
    "event-processor" = { description = "Import API and central router of application events", memory_mb = 1024, timeout_seconds = 30 }
    "import"          = { description = "Batch-writes queued import chunks", memory_mb = 1024, timeout_seconds = 60 }
    "analytics"       = { description = "Validates, enriches and stores analytics events", memory_mb = 512, timeout_seconds = 30 }
    "analytics-api"   = { description = "Reads analytics and accepts front-end events", memory_mb = 512, timeout_seconds = 10 }
  }

  tables = {
    "data" = {
      hash_key      = "pk"
      range_key     = "sk"
      ttl_attribute = "expiresAt"
      indexes = [
        { name = "byCreatedAt", hash_key = "pk", range_key = "createdSort" },
        { name = "byUpdatedAt", hash_key = "pk", range_key = "updatedSort" },
      ]
    }
    "analytics" = {
      hash_key      = "pk"
      range_key     = "sk"
      ttl_attribute = "expiresAt"
      indexes = [
        { name = "byUser", hash_key = "userPk", range_key = "userSk" },
      ]
    }
  }

  queues = {
    "import" = {
      max_receive_count       = 5
      consumer                = "import"
      batch_size              = 10
      batching_window_seconds = 0
      maximum_concurrency     = 10
    }
    "app-events" = {
      max_receive_count       = 5
      consumer                = "event-processor"
      batch_size              = 10
      batching_window_seconds = 1
      maximum_concurrency     = 5
    }
    "analytics" = {
      max_receive_count       = 5
      consumer                = "analytics"
      batch_size              = 10
      batching_window_seconds = 1
      maximum_concurrency     = 5
    }
  }

  buses = ["app", "analytics"]

  rules = {
    "app-to-event-processor" = {
      bus           = "app"
      event_pattern = { "source" = ["event-flows.items", "event-flows.imports"] }
      target_queue  = "app-events"
    }
    "analytics-to-processor" = {
      bus           = "analytics"
      event_pattern = { "detail-type" = [{ "suffix" = "_ANALYTICS" }] }
      target_queue  = "analytics"
    }
  }

  routes = {
    "GET /health"                          = { function = "query", auth = "none" }
    "GET /items/{collection}"              = { function = "query", auth = "jwt" }
    "GET /items/{collection}/{id}"         = { function = "query", auth = "jwt" }
    "GET /collections/{collection}/stats"  = { function = "query", auth = "jwt" }
    "PUT /items/{collection}/{id}"         = { function = "write", auth = "jwt" }
    "PATCH /items/{collection}/{id}"       = { function = "write", auth = "jwt" }
    "DELETE /items/{collection}/{id}"      = { function = "write", auth = "jwt" }
    "POST /imports"                        = { function = "event-processor", auth = "jwt" }
    "POST /imports/{importId}/items"       = { function = "event-processor", auth = "jwt" }
    "POST /imports/{importId}/commit"      = { function = "event-processor", auth = "jwt" }
    "POST /imports/{importId}/cancel"      = { function = "event-processor", auth = "jwt" }
    "GET /imports/{importId}"              = { function = "event-processor", auth = "jwt" }
    "GET /imports/{importId}/failures"     = { function = "event-processor", auth = "jwt" }
    "GET /analytics/summary"               = { function = "analytics-api", auth = "jwt" }
    "GET /analytics/timeseries"            = { function = "analytics-api", auth = "jwt" }
    "GET /analytics/users/{userId}/events" = { function = "analytics-api", auth = "jwt" }
    "POST /events"                         = { function = "analytics-api", auth = "jwt" }
  }
}
