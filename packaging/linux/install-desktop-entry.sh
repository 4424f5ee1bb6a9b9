#!/bin/sh
# Put Acacia in the desktop's application menu (per user), or take it out again.
#
#   install-desktop-entry.sh              install: .desktop file, icons, AppStream metainfo
#   install-desktop-entry.sh --uninstall  remove exactly those files
#   options: --exec COMMAND (what the menu entry runs), --prefix DIR (default $XDG_DATA_HOME or ~/.local/share)
#
# Works from the source tree (menu entry runs `acacia-gui` from PATH, e.g. after
# `pip install`) and from a PyInstaller bundle, where this folder is dist/acacia/linux/
# (the entry then runs the bundle's own binary by its absolute path).
set -eu

APP_ID=io.github.acacia.Acacia
SIZES="16 24 32 48 64 128 256 512"
here=$(cd "$(dirname "$0")" && pwd)
prefix=${XDG_DATA_HOME:-$HOME/.local/share}
exec_cmd=""
action=install

while [ $# -gt 0 ]; do
  case $1 in
    --uninstall) action=uninstall ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift ;;
    --exec) exec_cmd=${2:?--exec needs a command}; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-desktop-entry.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -d "$here/../_internal/acacia_gui/resources/icons/app" ]; then  # inside the bundle
  icons="$here/../_internal/acacia_gui/resources/icons/app"
  [ -n "$exec_cmd" ] || exec_cmd="$(cd "$here/.." && pwd)/acacia"
else  # the source tree
  icons="$here/../../resources/icons/app"
  [ -n "$exec_cmd" ] || exec_cmd=acacia-gui
fi

files="$prefix/applications/$APP_ID.desktop $prefix/metainfo/$APP_ID.metainfo.xml $prefix/icons/hicolor/scalable/apps/$APP_ID.svg"
for size in $SIZES; do files="$files $prefix/icons/hicolor/${size}x${size}/apps/$APP_ID.png"; done

refresh() {
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$prefix/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$prefix/icons/hicolor" || true
}

if [ "$action" = uninstall ]; then
  for f in $files; do rm -f "$f"; done
  refresh
  echo "Removed Acacia's menu entry, icons and metainfo from $prefix"
  exit 0
fi

[ -f "$icons/acacia.svg" ] || { echo "install-desktop-entry.sh: no app icons in $icons" >&2; exit 1; }
mkdir -p "$prefix/applications" "$prefix/metainfo" "$prefix/icons/hicolor/scalable/apps"
# Exec= and TryExec= get the command; a path with spaces is quoted as the Desktop Entry spec asks.
case $exec_cmd in *" "*) exec_field="\"$exec_cmd\"" ;; *) exec_field=$exec_cmd ;; esac
sed -e "s|^Exec=.*|Exec=$exec_field|" -e "s|^TryExec=.*|TryExec=$exec_cmd|" \
  "$here/$APP_ID.desktop" > "$prefix/applications/$APP_ID.desktop"
cp "$here/$APP_ID.metainfo.xml" "$prefix/metainfo/"
cp "$icons/acacia.svg" "$prefix/icons/hicolor/scalable/apps/$APP_ID.svg"
for size in $SIZES; do
  mkdir -p "$prefix/icons/hicolor/${size}x${size}/apps"
  cp "$icons/acacia-$size.png" "$prefix/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
done
refresh
echo "Installed Acacia's menu entry in $prefix (runs: $exec_cmd); remove it with $0 --uninstall"
