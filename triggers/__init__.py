"""What runs functions besides a call: event source mappings (SQS, Kinesis, DynamoDB
Streams, self-hosted brokers) and their pollers, and EventBridge-style rules and schedules.

Above ``invocations`` (it invokes functions as any caller does) and below the console."""
