/** The HTTP status an AWS SDK error carries, or undefined when no answer came (a network failure). */
export const statusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
