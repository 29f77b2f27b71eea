import{createRequire}from'node:module';const require=createRequire(import.meta.url);
import"./chunk-R74K4P2Q.mjs";await import("./revoke-STPGNGFJ.mjs");
