import { describe, expect, test } from "bun:test";
import { httpRecord } from "../../src/http/http-record.ts";
import { ErrorCode } from "../../src/protocol/types.ts";

const base = { clientAddress: "10.0.0.5", clientPort: 40000, requested: "a.efi", file: "a.efi", bytes: 10, size: 10, durationMs: 3 };

describe("httpRecord", () => {
  test("a complete GET reads like a finished TFTP read, with the status as an option", () => {
    const r = httpRecord({ ...base, status: 200, outcome: "ok" });
    expect(r).toMatchObject({ direction: "read", mode: "http", options: { status: "200" }, bytes: 10, size: 10, outcome: "ok", retransmits: 0 });
    expect(r.errorCode).toBeUndefined();
  });

  test("a range names itself; refusals carry the matching TFTP code", () => {
    expect(httpRecord({ ...base, status: 206, range: { start: 0, end: 4 }, bytes: 5, outcome: "ok" }).options).toEqual({ status: "206", range: "0-4" });
    expect(httpRecord({ ...base, status: 404, bytes: 0, size: -1, outcome: "error" }).errorCode).toBe(ErrorCode.FILE_NOT_FOUND);
    expect(httpRecord({ ...base, status: 403, bytes: 0, size: -1, outcome: "error" }).errorCode).toBe(ErrorCode.ACCESS_VIOLATION);
    expect(httpRecord({ ...base, status: 400, bytes: 0, size: -1, outcome: "error" }).errorCode).toBe(ErrorCode.ILLEGAL_OPERATION);
    expect(httpRecord({ ...base, status: 416, bytes: 0, outcome: "error" }).errorCode).toBe(ErrorCode.NOT_DEFINED);
  });
});
