/**
 * The simulator's default catalogue: a few datacenters, two plan categories, OS images, and the
 * nicknames the product documents use (`small-2cpu-4gb`, `medium-4cpu-8gb`, `us-east-1`,
 * `ubuntu-22.04-lts`). The plans and prices ARE the planner's catalogue
 * (`decision/planner/catalog.ts` DEFAULT_PLANS), so the planner benchmark, the tests and the
 * sandbox's VPSie agree on shapes and prices.
 */
import { DEFAULT_PLANS } from '../../decision/planner/catalog';
export interface SimDatacenter {
  identifier: string;
  dc_name: string;
  state: string;
  country: string;
  id: number;
  default_selected: 0 | 1;
}

export interface SimCategory {
  identifier: string;
  name: string;
}

export interface SimPlan {
  id: number;
  identifier: string;
  nickname: string;
  categoryIdentifier: string;
  cpu: number;
  /** MB */
  ram: number;
  /** GB */
  ssd: number;
  /** GB per month */
  traffic: number;
  /** monthly, USD */
  price: number;
  net_speed: number;
}

export interface SimImage {
  identifier: string;
  name: string;
  os: string;
  version: string;
  id: number;
}

export interface Catalogue {
  datacenters: SimDatacenter[];
  categories: SimCategory[];
  plans: SimPlan[];
  images: SimImage[];
}

/** Stable numeric plan ids (the identifier is derived from it). Never renumber a plan. */
export const PLAN_NUMERIC_IDS: Readonly<Record<string, number>> = {
  'xsmall-1cpu-1gb': 1,
  'xsmall-1cpu-2gb': 2,
  'small-2cpu-4gb': 3,
  'medium-4cpu-8gb': 4,
  'large-8cpu-16gb': 5,
  'xlarge-8cpu-32gb': 6,
  '2xlarge-16cpu-64gb': 7,
  'cpu-2cpu-4gb': 8,
  'cpu-4cpu-8gb': 9,
  'cpu-8cpu-16gb': 10,
  'cpu-16cpu-32gb': 11,
  'small-2cpu-2gb': 12,
  'large-6cpu-12gb': 13,
  'xlarge-12cpu-48gb': 14,
};

export function planIdentifier(n: number): string {
  return `7a1e${String(n).padStart(4, '0')}-37df-11ee-8bba-0050569c68dc`;
}

export const CAT_SHARED = 'c3c4a0a2-9f51-11ee-8c90-0242ac120002';
export const CAT_COMPUTE = 'c3c4a3d6-9f51-11ee-8c90-0242ac120002';

export function defaultCatalogue(): Catalogue {
  const datacenters: SimDatacenter[] = [
    { id: 1, identifier: '55f06b85-c9ee-11e3-9845-005056aa8af7', dc_name: 'us-east-1', state: 'New York', country: 'US', default_selected: 1 },
    { id: 2, identifier: '55f06b85-c9ee-11e3-9845-005056aa8af8', dc_name: 'us-west-1', state: 'California', country: 'US', default_selected: 0 },
    { id: 3, identifier: '55f06b85-c9ee-11e3-9845-005056aa8af9', dc_name: 'eu-central-1', state: 'Frankfurt', country: 'DE', default_selected: 0 },
  ];
  const categories: SimCategory[] = [
    { identifier: CAT_SHARED, name: 'Shared CPU' },
    { identifier: CAT_COMPUTE, name: 'Compute Optimized' },
  ];
  // One source of plans and prices: the planner's catalogue (decision/planner/catalog.ts). Numeric
  // ids (and so identifiers) are fixed per nickname so `small-2cpu-4gb` (3) and `medium-4cpu-8gb` (4)
  // keep the identifiers they always had.
  const plans: SimPlan[] = DEFAULT_PLANS.map((p) => {
    const n = PLAN_NUMERIC_IDS[p.nickname];
    if (n === undefined) throw new Error(`catalogue: no numeric id for plan ${p.nickname}`);
    const cat = p.category === 'Compute Optimized' ? CAT_COMPUTE : CAT_SHARED;
    return {
      id: n,
      identifier: planIdentifier(n),
      nickname: p.nickname,
      categoryIdentifier: cat,
      cpu: p.vcpu,
      ram: p.memoryGiB * 1024,
      ssd: p.diskGB,
      traffic: 1000 * Math.max(1, Math.min(8, p.vcpu)),
      price: p.monthlyPrice,
      net_speed: cat === CAT_COMPUTE ? 10000 : 1000,
    };
  });
  const images: SimImage[] = [
    { id: 1, identifier: '17e21ee5-37df-11ee-8bba-0050569c68dc', name: 'ubuntu-22.04-lts', os: 'Ubuntu', version: '22.04' },
    { id: 2, identifier: '17e21ee6-37df-11ee-8bba-0050569c68dc', name: 'ubuntu-24.04-lts', os: 'Ubuntu', version: '24.04' },
    { id: 3, identifier: '17e21ee7-37df-11ee-8bba-0050569c68dc', name: 'debian-12', os: 'Debian', version: '12' },
  ];
  return { datacenters, categories, plans, images };
}

export function findPlan(c: Catalogue, ref: string | number): SimPlan | undefined {
  const s = String(ref);
  return c.plans.find((p) => p.identifier === s || p.nickname === s || String(p.id) === s);
}

export function findDatacenter(c: Catalogue, ref: string | number): SimDatacenter | undefined {
  const s = String(ref);
  return c.datacenters.find((d) => d.identifier === s || d.dc_name === s || String(d.id) === s);
}

export function findImage(c: Catalogue, ref: string | number): SimImage | undefined {
  const s = String(ref);
  return c.images.find((i) => i.identifier === s || i.name === s || String(i.id) === s);
}

/** VPSie bills monthly prices; an hour costs price / 730. */
export const HOURS_PER_MONTH = 730;
