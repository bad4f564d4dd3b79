/**
 * Reproducible synthetic credit data: the same seed gives the same borrowers,
 * accounts and repayments on every machine. Used by `creditmesh testnet`,
 * benchmarks and scripts/synthetic.ts; nothing here touches the network or disk.
 */
export { createRng, type Rng } from "./prng.js";
export { generateResidentId, REGION_CODES, type ResidentIdOptions } from "./resident-id.js";
export { generateBorrower, generateBorrowers, generateName, generatePhone, type Borrower } from "./borrowers.js";
export type { AccountHistory, AccountPlan, ProductShape } from "./histories.js";
export {
  generateNetworkData,
  institutionRecords,
  type BorrowerProfile,
  type InstitutionData,
  type NetworkData,
  type NetworkDataOptions,
  type SyntheticBorrower,
} from "./network.js";
export {
  BENCH_OPENED_ON,
  benchAccountId,
  generateAccounts,
  generateRepaymentBatches,
  generateRepayments,
  MAX_BENCH_INSTALLMENTS,
} from "./bench.js";
export { generatePortfolios, portfolioFiller, type PortfolioBorrower, type PortfolioOptions, type Portfolios } from "./portfolios.js";
