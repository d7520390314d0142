/**
 * `agentlab completion bash|zsh|fish`: completion scripts generated from the command tree itself,
 * so they never drift from the commands that exist.
 */
import type { Command } from "commander";
import { UsageError } from "../cli-errors.js";

interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

function walk(command: Command, path: string[] = []): Node[] {
  const node: Node = {
    path,
    subcommands: command.commands.map((c) => c.name()),
    options: command.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))),
  };
  return [node, ...command.commands.flatMap((c) => walk(c, [...path, c.name()]))];
}

function bash(nodes: Node[]): string {
  const cases = nodes
    .map((n) => `    "${n.path.join(" ")}") words="${[...n.subcommands, ...n.options, "--help"].join(" ")}" ;;`)
    .join("\n");
  return `# bash completion for agentlab: source <(agentlab completion bash)
_agentlab() {
  local cur path="" words="" i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) path="\${path:+$path }\${COMP_WORDS[i]}" ;; esac
  done
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _agentlab agentlab
`;
}

function zsh(nodes: Node[]): string {
  return `#compdef agentlab
# zsh completion for agentlab: agentlab completion zsh > "\${fpath[1]}/_agentlab"
autoload -U bashcompinit && bashcompinit
${bash(nodes)}`;
}

function fish(nodes: Node[]): string {
  const lines = [
    "# fish completion for agentlab: agentlab completion fish > ~/.config/fish/completions/agentlab.fish",
    "complete -c agentlab -f",
  ];
  for (const n of nodes) {
    const condition = n.path.length === 0 ? "__fish_use_subcommand" : `__fish_seen_subcommand_from ${n.path.at(-1)}`;
    for (const sub of n.subcommands) lines.push(`complete -c agentlab -n '${condition}' -a ${sub}`);
    for (const opt of n.options.filter((o) => o.startsWith("--")))
      lines.push(`complete -c agentlab -n '${condition}' -l ${opt.slice(2)}`);
  }
  return `${lines.join("\n")}\n`;
}

export function registerCompletionCommand(program: Command): void {
  program
    .command("completion <shell>")
    .description("print a shell completion script for bash, zsh or fish")
    .action((shell: string) => {
      const nodes = walk(program);
      const scripts: Record<string, (n: Node[]) => string> = { bash, zsh, fish };
      const render = scripts[shell];
      if (!render) throw new UsageError(`unknown shell ${JSON.stringify(shell)}: use bash, zsh or fish`);
      process.stdout.write(render(nodes));
    });
}
