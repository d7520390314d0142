process.stderr.write("fake Proxmox CLI: not implemented yet\n");
process.exitCode = 255;
