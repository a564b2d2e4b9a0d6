/** Parsing OptimizationPolicies read from the API, with errors that name the field. */
import { safeParseResource, parseResource, type ParseResult } from '../autoscaler/parse';
import { OPTIMIZATIONPOLICY_KIND } from './constants';
import { OptimizationPolicySchema, type OptimizationPolicy } from './policy';

export const safeParseOptimizationPolicy = (obj: unknown): ParseResult<OptimizationPolicy> =>
  safeParseResource(OptimizationPolicySchema, OPTIMIZATIONPOLICY_KIND, obj);
/** Throws CrdValidationError naming the bad fields. */
export const parseOptimizationPolicy = (obj: unknown): OptimizationPolicy => parseResource(OptimizationPolicySchema, OPTIMIZATIONPOLICY_KIND, obj);
