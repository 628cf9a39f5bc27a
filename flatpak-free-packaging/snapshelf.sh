# Snapshelf: snap apps on PATH and in the desktop's menus. Installed to /etc/profile.d/.
case ":$PATH:" in
  *:/snap/bin:*) ;;
  *) PATH="$PATH:/snap/bin"; export PATH ;;
esac
case ":${XDG_DATA_DIRS:-}:" in
  *:/var/lib/snapshelf/desktop:*) ;;
  *) XDG_DATA_DIRS="${XDG_DATA_DIRS:-/usr/local/share:/usr/share}:/var/lib/snapshelf/desktop"; export XDG_DATA_DIRS ;;
esac
