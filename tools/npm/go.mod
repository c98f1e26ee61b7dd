module github.com/crossbuild/crossbuild/tools/npm

go 1.26
