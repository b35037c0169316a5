#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../functions/core/config.js';
import { buildRelayApp, cliEnvironment } from '../lib/app.js';

const app = new App();
try {
  buildRelayApp(app, cliEnvironment());
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
