# Sourced by bench/container.sh and bench/container-restart.sh: the rehearsal's root, i.e. an image's
# files outside the engine, as tests/image_rehearsal.rs boots a container.
# rehearsal_root IMAGE DIR: `docker export`s a container of IMAGE into DIR (ownership kept: tar runs as
# root; DIR made 0755, the image's /, so USER can reach /usr/local/bin) and sets what `docker run` would
# take from the image: image_env, image_workdir, image_user, image_uid, image_gid, image_home,
# image_entrypoint.
rehearsal_root() {
  local image=$1 dir=$2 cid
  chmod 755 "$dir"
  cid=$(docker create --pull never "$image")
  docker export "$cid" | tar -x -C "$dir"
  docker rm "$cid" >/dev/null
  mapfile -t image_env < <(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$image" | sed '/^$/d')
  image_workdir=$(docker image inspect -f '{{.Config.WorkingDir}}' "$image")
  image_user=$(docker image inspect -f '{{.Config.User}}' "$image")
  image_uid=$(awk -F: -v u="$image_user" '$1 == u {print $3}' "$dir/etc/passwd")
  image_gid=$(awk -F: -v u="$image_user" '$1 == u {print $4}' "$dir/etc/passwd")
  image_home=$(awk -F: -v u="$image_user" '$1 == u {print $6}' "$dir/etc/passwd")
  mapfile -t image_entrypoint < <(docker image inspect -f '{{range .Config.Entrypoint}}{{println .}}{{end}}' "$image" | sed '/^$/d')
}
