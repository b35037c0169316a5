/**
 * Local names for a template's resources, as the stand-ins would answer `Ref` and `Fn::GetAtt`
 * (bucket name and ARN, queue URL/ARN/name, bus name and ARN, …), derived from the logical id.
 */
import { LOCAL_PSEUDO, type PseudoParameters, type StandIn, type StandInNames } from './intrinsics.js';

type Namer = (name: string, p: PseudoParameters) => StandIn;

const arn = (p: PseudoParameters, service: string, resource: string, regional = true) =>
  `arn:${p.partition}:${service}:${regional ? p.region : ''}:${regional ? p.accountId : ''}:${resource}`;

const NAMERS: Record<string, Namer> = {
  'AWS::S3::Bucket': (name, p) => ({ ref: name, Arn: arn(p, 's3', name, false) }),
  'AWS::SQS::Queue': (name, p) => ({
    ref: `http://localhost/${p.accountId}/${name}`,
    Arn: arn(p, 'sqs', name),
    QueueName: name,
    QueueUrl: `http://localhost/${p.accountId}/${name}`,
  }),
  'AWS::Events::EventBus': (name, p) => ({
    ref: name,
    Arn: arn(p, 'events', `event-bus/${name}`),
    Name: name,
  }),
  'AWS::StepFunctions::StateMachine': (name, p) => {
    const machineArn = arn(p, 'states', `stateMachine:${name}`);
    return { ref: machineArn, Arn: machineArn, Name: name };
  },
  'AWS::Lambda::Function': (name, p) => ({ ref: name, Arn: arn(p, 'lambda', `function:${name}`) }),
  'AWS::SecretsManager::Secret': (name, p) => {
    const secretArn = arn(p, 'secretsmanager', `secret:${name}-local`);
    return { ref: secretArn, Id: secretArn };
  },
  'AWS::KMS::Key': (name, p) => ({ ref: name, Arn: arn(p, 'kms', `key/${name}`), KeyId: name }),
  'AWS::IAM::Role': (name, p) => ({ ref: name, Arn: arn(p, 'iam', `role/${name}`, false), RoleId: name }),
  'AWS::Logs::LogGroup': (name, p) => ({ ref: name, Arn: arn(p, 'logs', `log-group:${name}:*`) }),
};

/** Stand-in names for every resource of a template whose type the stand-ins model. */
export function standInNames(
  template: { Resources?: Record<string, { Type: string }> },
  pseudo: PseudoParameters = LOCAL_PSEUDO,
): StandInNames {
  const names: StandInNames = {};
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    const namer = NAMERS[resource.Type];
    if (namer) names[logicalId] = namer(`${pseudo.stackName}-${logicalId}`.toLowerCase(), pseudo);
  }
  return names;
}
