/** What DescribeExecution tells of an execution (the input and failure only readable with the key). */
export interface ExecutionDescription {
  status: string;
  /** The execution input as JSON text: the delivery request. */
  input?: string;
  error?: string;
  cause?: string;
}

/** Reads an execution by ARN (Step Functions DescribeExecution on AWS, the local runner's record locally). */
export interface ExecutionLookup {
  describe(executionArn: string): Promise<ExecutionDescription>;
}
