import type { EmulatorState } from '../model.js';
import {
  type ApiContext,
  ApiError,
  type ApiReply,
  body,
  requestedPartSize,
  requiredString,
  requireEmail,
} from './http.js';
import { newPackage, packageView } from './packages.js';

export interface PortalInfo {
  id: string;
  subdomain: string;
  accessCode?: string;
  requiresForm: boolean;
}

export function portals(state: EmulatorState): PortalInfo[] {
  const a = state.accounts;
  return [
    { id: a.portalId, subdomain: a.portalSubdomain, requiresForm: false },
    {
      id: a.protectedPortalId,
      subdomain: a.protectedPortalSubdomain,
      accessCode: a.accessCode,
      requiresForm: false,
    },
    { id: a.formPortalId, subdomain: a.formPortalSubdomain, requiresForm: true },
  ];
}

export function getPortalBySubdomain(ctx: ApiContext): ApiReply {
  const portal = portals(ctx.state).find((p) => p.subdomain === ctx.params[0]);
  if (!portal) throw new ApiError(404, 'portal not found');
  return {
    status: 200,
    body: {
      id: portal.id,
      subdomain: portal.subdomain,
      name: portal.subdomain,
      active: true,
      has_access_code: portal.accessCode !== undefined,
      custom_form_enabled: portal.requiresForm,
    },
  };
}

export function createPortalPackage(ctx: ApiContext): ApiReply {
  const portal = portals(ctx.state).find((p) => p.id === ctx.params[0]);
  if (!portal) throw new ApiError(404, 'portal not found');
  if (portal.accessCode !== undefined) {
    const given = ctx.req.headers['x-access-code'];
    if (typeof given !== 'string' || given === '')
      throw new ApiError(401, 'this portal requires an access code (X-Access-Code)');
    let decoded: string;
    try {
      decoded = decodeURIComponent(given);
    } catch {
      throw new ApiError(400, 'X-Access-Code must be URI encoded');
    }
    if (decoded !== portal.accessCode) throw new ApiError(401, 'invalid access code');
  }
  const b = body(ctx);
  const name = requiredString(b, 'name');
  const description = requiredString(b, 'description', true);
  const sender = requiredString(b, 'sender');
  requireEmail(sender, 'sender');
  const formDataId = b.form_data_id;
  if (portal.requiresForm && (typeof formDataId !== 'string' || formDataId === '')) {
    throw new ApiError(400, 'form_data_id is required: this portal has a custom form');
  }
  const partSize = requestedPartSize(ctx.state, b);
  const pkg = newPackage(ctx.state, {
    owner: { kind: 'portal', portalId: portal.id },
    name,
    description,
    recipients: [],
    sender,
    formDataId: typeof formDataId === 'string' ? formDataId : undefined,
    unlimitedStorage: false,
    partSize,
  });
  return { status: 201, body: packageView(ctx.state, pkg, true) };
}
