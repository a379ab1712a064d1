#!/bin/sh
# Run the commit command given as the parameters ("$@"), then inspect the image ID it prints.
id=$("$@") && docker image inspect --format '{{json .}}' "$id"