/** The relay's own CloudWatch metrics: one home for the names the handlers emit and the dashboard reads. */
export const METRICS_NAMESPACE = 'MasvRelay';

export const RelayMetric = {
  deliveriesSucceeded: 'DeliveriesSucceeded',
  deliveriesFailed: 'DeliveriesFailed',
  /** Link, tags, success event or clean-up that failed after the package was finalized. */
  deliveryFollowUpFailures: 'DeliveryFollowUpFailures',
  bytesRelayed: 'BytesRelayed',
  partsUploaded: 'PartsUploaded',
  partRetries: 'PartRetries',
} as const;
