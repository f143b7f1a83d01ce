# bash completion for side(1). Commands, options, module names and device names come from side itself (its help
# texts and `side __complete`), so they never drift from what side accepts.

_side_options() {
  "$1" "$2" --help 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}

_side() {
  local cur prev words cword
  # ':' does not split words: device names are qemu:MODEL (readline still replaces only what follows the colon).
  _init_completion -n : || return
  local side=${words[0]}

  if ((cword == 1)); then
    mapfile -t COMPREPLY < <(compgen -W "$("$side" __complete commands 2>/dev/null) --help --version" -- "$cur")
    return
  fi
  local command=${words[1]}

  case $prev in
    --isolation) mapfile -t COMPREPLY < <(compgen -W "process inproc sfi" -- "$cur"); return ;;
    --class) mapfile -t COMPREPLY < <(compgen -W "net block" -- "$cur"); return ;;
    --out) _filedir -d; return ;;
    --disk | --fuse | --nbd) _filedir; return ;;
    --wire) mapfile -t COMPREPLY < <(compgen -W "builtin tap: pcap:" -- "$cur"); return ;;
    --device)
      mapfile -t COMPREPLY < <(compgen -W "$("$side" __complete devices 2>/dev/null)" -- "$cur")
      __ltrim_colon_completions "$cur"
      return ;;
    --drivers)  # conformance: a comma-separated list; complete its last item
      local prefix=""
      [[ $cur == *,* ]] && prefix=${cur%,*},
      mapfile -t COMPREPLY < <(compgen -P "$prefix" -W "$("$side" __complete rows 2>/dev/null)" -- "${cur##*,}")
      __ltrim_colon_completions "$cur"
      return ;;
    --types) mapfile -t COMPREPLY < <(compgen -W "crash bitflip loop pointer wild dma storm alloc lostirq" -- "$cur"); return ;;
  esac

  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_side_options "$side" "$command") --help" -- "$cur")
    return
  fi

  # The first word after run, inject, modinfo and symbols is a MODULE: a name from the module cache, or a path.
  case $command in
    run | inject | modinfo | symbols)
      local i module_given=0
      for ((i = 2; i < cword; i++)); do [[ ${words[i]} == -* ]] || module_given=1; done
      if ((!module_given)); then
        if [[ $cur == */* ]]; then
          _filedir ko
        else
          mapfile -t COMPREPLY < <(compgen -W "$("$side" __complete modules 2>/dev/null)" -- "$cur")
        fi
      fi
      ;;
  esac
}

complete -F _side side
