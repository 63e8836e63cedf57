//! `completions <SHELL>` and `man`: generated from the same clap definition as the
//! commands, so they never drift from the flags.

use crate::error::Result;
use clap::Args as ClapArgs;
use std::io::Write;

/// Arguments of `completions`.
#[derive(Debug, ClapArgs)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, ClapArgs)]
pub struct ManArgs {
    /// The page of one command (e.g. `report`) instead of the top-level page.
    pub command: Option<String>,
}

/// Writes the completion script for `args.shell` to stdout.
pub fn run_completions(args: &CompletionsArgs, mut cmd: clap::Command) -> Result<u8> {
    let mut out = crate::output::stdout();
    clap_complete::generate(args.shell, &mut cmd, "etcd-autopsy", &mut out);
    out.flush()?;
    Ok(crate::error::EXIT_OK)
}

/// Writes the roff manual page of the program (or of one command) to stdout.
pub fn run_man(args: &ManArgs, cmd: clap::Command) -> Result<u8> {
    let page = match &args.command {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name).cloned() else {
                return Err(crate::error::CliError::Other(format!(
                    "man: no command named `{name}`"
                )));
            };
            sub.name(format!("etcd-autopsy-{name}"))
        }
    };
    let mut out = crate::output::stdout();
    clap_mangen::Man::new(page).render(&mut out)?;
    out.flush()?;
    Ok(crate::error::EXIT_OK)
}
