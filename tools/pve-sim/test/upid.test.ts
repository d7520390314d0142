import { describe, expect, it } from "vitest";
import { formatUpid, parseUpid } from "../src/upid.js";

describe("UPID format (reference/proxmox.md §1.4)", () => {
  it("formats upper-case 8-hex fields with a trailing colon and token users", () => {
    const upid = formatUpid({
      node: "pve",
      pid: 0xb4e1f,
      pstart: 0x139e3d0,
      starttime: 0x65a1b2c3,
      type: "qmclone",
      id: "9000",
      user: "root@pam!runner",
    });
    expect(upid).toBe("UPID:pve:000B4E1F:0139E3D0:65A1B2C3:qmclone:9000:root@pam!runner:");
    expect(parseUpid(upid)).toEqual({
      node: "pve",
      pid: 0xb4e1f,
      pstart: 0x139e3d0,
      starttime: 0x65a1b2c3,
      type: "qmclone",
      id: "9000",
      user: "root@pam!runner",
    });
  });

  it("rejects a UPID without the trailing colon or with short hex", () => {
    expect(parseUpid("UPID:pve:000B4E1F:0139E3D0:65A1B2C3:qmclone:9000:root@pam")).toBeUndefined();
    expect(parseUpid("UPID:pve:B4E1F:0139E3D0:65A1B2C3:qmclone:9000:root@pam:")).toBeUndefined();
  });
});
